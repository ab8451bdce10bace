import numpy as np

from course_utils.maths import lstm


def _recompute_gates(x, h_prev, Wx, Wh, b):
    hidden = h_prev.shape[1]
    preactivation = x.dot(Wx.T) + h_prev.dot(Wh.T) + b
    input_gate = lstm.sigmoid(preactivation[:, 0 * hidden:1 * hidden])
    forget_gate = lstm.sigmoid(preactivation[:, 1 * hidden:2 * hidden])
    candidate = np.tanh(preactivation[:, 2 * hidden:3 * hidden])
    output_gate = lstm.sigmoid(preactivation[:, 3 * hidden:4 * hidden])
    return input_gate, forget_gate, candidate, output_gate


def lstm_step_backward(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    input_gate, forget_gate, candidate, output_gate = _recompute_gates(x, h_prev, Wx, Wh, b)
    cell = forget_gate * c_prev + input_gate * candidate
    tanh_cell = np.tanh(cell)

    # total gradient at the new cell state: from the next step and through h_next
    grad_cell = dc_next + dh_next * output_gate * (1 - tanh_cell ** 2)

    grad_output_gate = dh_next * tanh_cell
    grad_input_gate = grad_cell * candidate
    grad_forget_gate = grad_cell * c_prev
    grad_candidate = grad_cell * input_gate
    grad_prev_cell = grad_cell * forget_gate

    grad_preactivation = np.hstack([
        grad_input_gate * input_gate * (1 - input_gate),
        grad_forget_gate * forget_gate * (1 - forget_gate),
        grad_candidate * (1 - candidate ** 2),
        grad_output_gate * output_gate * (1 - output_gate),
    ])

    grad_x = grad_preactivation.dot(Wx)
    grad_prev_hidden = grad_preactivation.dot(Wh)
    grad_Wx = grad_preactivation.T.dot(x)
    grad_Wh = grad_preactivation.T.dot(h_prev)
    grad_b = grad_preactivation.sum(axis=0)
    return grad_x, grad_prev_hidden, grad_prev_cell, grad_Wx, grad_Wh, grad_b


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    input_gate, forget_gate, candidate, output_gate = _recompute_gates(x, h_prev, Wx, Wh, b)
    next_cell = forget_gate * c_prev + input_gate * candidate
    next_hidden = output_gate * np.tanh(next_cell)
    return next_hidden, next_cell


def lstm_forward(x, h0, c0, Wx, Wh, b):
    hidden_states = []
    cell_states = []
    hidden, cell = h0, c0
    for step in range(x.shape[1]):
        hidden, cell = lstm_step_forward(x[:, step, :], hidden, cell, Wx, Wh, b)
        hidden_states.append(hidden)
        cell_states.append(cell)
    return np.stack(hidden_states, axis=1), np.stack(cell_states, axis=1)


seq_forward = lstm_forward
step_backward = lstm_step_backward


def lstm_backward(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    hidden_states, cell_states = seq_forward(x, h0, c0, Wx, Wh, b)
    num_steps = x.shape[1]

    grad_inputs = np.zeros(x.shape)
    grad_Wx = np.zeros(Wx.shape)
    grad_Wh = np.zeros(Wh.shape)
    grad_b = np.zeros(b.shape)

    grad_hidden_from_next = np.zeros(h0.shape)
    grad_cell_from_next = np.zeros(c0.shape)
    if dcT is not None:
        grad_cell_from_next = grad_cell_from_next + dcT

    for step in reversed(range(num_steps)):
        if step > 0:
            previous_hidden = hidden_states[:, step - 1, :]
            previous_cell = cell_states[:, step - 1, :]
        else:
            previous_hidden = h0
            previous_cell = c0
        total_grad_hidden = dh[:, step, :] + grad_hidden_from_next
        (grad_input, grad_hidden_from_next, grad_cell_from_next,
         step_grad_Wx, step_grad_Wh, step_grad_b) = step_backward(
            total_grad_hidden, grad_cell_from_next, x[:, step, :],
            previous_hidden, previous_cell, Wx, Wh, b)
        grad_inputs[:, step, :] = grad_input
        grad_Wx = grad_Wx + step_grad_Wx
        grad_Wh = grad_Wh + step_grad_Wh
        grad_b = grad_b + step_grad_b

    return grad_inputs, grad_hidden_from_next, grad_cell_from_next, grad_Wx, grad_Wh, grad_b
