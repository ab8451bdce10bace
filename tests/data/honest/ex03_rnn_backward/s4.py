import numpy as np


def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
    grad_preactivation = dh_next * (1 - h_next ** 2)
    grad_input = grad_preactivation @ Wxh
    grad_prev_hidden = grad_preactivation @ Whh
    grad_Wxh = grad_preactivation.T @ x
    grad_Whh = grad_preactivation.T @ h_prev
    grad_bias = grad_preactivation.sum(0)
    return grad_input, grad_prev_hidden, grad_Wxh, grad_Whh, grad_bias


def rnn_backward(dh, x, h0, h, Wxh, Whh):
    num_steps = x.shape[1]
    # states before each step: h_0, h_1, ..., h_{T-1}
    previous_states = np.concatenate([h0[:, None, :], h[:, :-1, :]], axis=1)

    grad_inputs = np.zeros(x.shape)
    grad_Wxh = np.zeros(Wxh.shape)
    grad_Whh = np.zeros(Whh.shape)
    grad_bias = np.zeros(Whh.shape[0])
    grad_hidden_carry = np.zeros(h0.shape)

    for step in reversed(range(num_steps)):
        grad_hidden_total = dh[:, step, :] + grad_hidden_carry
        (grad_input, grad_hidden_carry, step_grad_Wxh, step_grad_Whh,
         step_grad_bias) = rnn_step_backward(grad_hidden_total, x[:, step, :],
                                             previous_states[:, step, :], h[:, step, :],
                                             Wxh, Whh)
        grad_inputs[:, step, :] = grad_input
        grad_Wxh = grad_Wxh + step_grad_Wxh
        grad_Whh = grad_Whh + step_grad_Whh
        grad_bias = grad_bias + step_grad_bias

    return grad_inputs, grad_hidden_carry, grad_Wxh, grad_Whh, grad_bias
