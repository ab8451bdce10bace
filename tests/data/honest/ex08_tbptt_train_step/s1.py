import torch
from torch.nn import functional as F

from course_utils.lessons import charlm


def tbptt_train_step(model, optimizer, x, y, state, clip):
    """One step of stateful truncated BPTT on one chunk."""
    state = charlm.detach_state(state)          # cut the graph at the chunk boundary
    logits, state = model(x, state)
    V = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), charlm.detach_state(state)
