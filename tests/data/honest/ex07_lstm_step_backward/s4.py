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
