import torch


def tbptt_train_step(model, optimizer, x, y, state, clip):
    def detach(s):
        if s is None:
            return None
        if isinstance(s, (tuple, list)):
            return tuple(t.detach() for t in s)
        return s.detach()

    logits, state = model(x, detach(state))
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), y.reshape(-1),
                                             reduction="mean")
    optimizer.zero_grad()
    loss.backward()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    torch.nn.utils.clip_grad_norm_(params, clip)
    optimizer.step()
    return float(loss.item()), detach(state)
