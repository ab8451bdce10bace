import torch
from torch.nn import functional as F

from course_utils.lessons import charlm


def tbptt_train_step(model, optimizer, x, y, state, clip):
    model.train()
    out, h = model(x, state)
    loss = F.cross_entropy(out.contiguous().view(-1, out.size(-1)), y.contiguous().view(-1))

    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()

    h = charlm.detach_state(h)
    loss_value = loss.item()
    return loss_value, h
