import torch
import torch.nn.functional as F


def tbptt_train_step(model, optimizer, x, y, state, clip):
    optimizer.zero_grad()
    logits, new_state = model(x, state)
    B, T, V = logits.shape
    loss = F.cross_entropy(logits.reshape(B * T, V), y.reshape(B * T))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
    optimizer.step()
    # detach so the next chunk's backward stops here
    if isinstance(new_state, tuple):
        new_state = tuple(s.detach() for s in new_state)
    elif new_state is not None:
        new_state = new_state.detach()
    return float(loss.detach()), new_state
