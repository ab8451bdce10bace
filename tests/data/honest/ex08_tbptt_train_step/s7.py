import torch
from torch.nn import functional as F

from course_utils.lessons import charlm


def tbptt_train_step(model, optimizer, x, y, state, clip):
    state = charlm.detach_state(state)
    for p in model.parameters():       # clear the previous chunk's gradient
        p.grad = None
    logits, state = model(x, state)
    nll = F.cross_entropy(torch.flatten(logits, end_dim=1), torch.flatten(y))
    nll.backward()
    torch.nn.utils.clip_grad_norm_(list(model.parameters()), float(clip))
    optimizer.step()
    return nll.item(), charlm.detach_state(state)
