from torch.nn import functional as F
from torch.nn.utils import clip_grad_norm_

from course_utils.lessons import charlm


def tbptt_train_step(model, optimizer, x, y, state, clip):
    # the scores go in as (B, V, T): cross_entropy takes the class axis second
    logits, state = model(x, state)
    loss = F.cross_entropy(logits.transpose(1, 2), y)
    model.zero_grad()
    loss.backward()
    clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    state = charlm.detach_state(state)
    return loss.item(), state
