import torch
from torch.nn import functional as F

from course_utils.lessons import charlm


def tbptt_train_step(model, optimizer, x, y, state, clip):
    """Stateful TBPTT: carry the state's values, not its graph; clear, compute, clip, apply."""
    carried_state = charlm.detach_state(state)
    predictions, next_state = model(x, carried_state)
    chunk_loss = F.cross_entropy(
        predictions.flatten(0, 1),
        y.flatten(),
    )
    optimizer.zero_grad(set_to_none=True)
    chunk_loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    torch.nn.utils.clip_grad_norm_(trainable, clip)
    optimizer.step()
    return chunk_loss.detach().item(), charlm.detach_state(next_state)
