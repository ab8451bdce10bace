import numpy as np


def tanh_backward(grad_out, out):
    # derivative of tanh written with its output
    return grad_out * (1.0 - out**2)


def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
    da = tanh_backward(dh_next, h_next)
    return (da.dot(Wxh),          # dx      (N, D)
            da.dot(Whh),          # dh_prev (N, H)
            da.T.dot(x),          # dWxh    (H, D)
            da.T.dot(h_prev),     # dWhh    (H, H)
            da.sum(axis=0))       # db      (H,)


def rnn_backward(dh, x, h0, h, Wxh, Whh):
    N, T, _ = x.shape
    grads = {"Wxh": np.zeros_like(Wxh), "Whh": np.zeros_like(Whh), "b": np.zeros(Whh.shape[0])}
    dx = np.zeros_like(x)
    carry = np.zeros_like(h0)
    for t in range(T)[::-1]:
        h_before = h0 if t == 0 else h[:, t - 1]
        dx[:, t], carry, gWxh, gWhh, gb = rnn_step_backward(
            dh[:, t] + carry, x[:, t], h_before, h[:, t], Wxh, Whh)
        grads["Wxh"] += gWxh
        grads["Whh"] += gWhh
        grads["b"] += gb
    return dx, carry, grads["Wxh"], grads["Whh"], grads["b"]
