import numpy as np

from course_utils.reference import nb01, nb03


def truncated_bptt(x, h0, Wxh, Whh, b, dh, k):
    sequence_length = x.shape[1]
    input_weight_grads = []
    recurrent_weight_grads = []
    bias_grads = []

    carried_state = h0
    chunk_start = 0
    while chunk_start < sequence_length:
        chunk_end = chunk_start + k
        chunk_inputs = x[:, chunk_start:chunk_end]
        chunk_loss_grads = dh[:, chunk_start:chunk_end]

        chunk_states = nb01.rnn_forward(chunk_inputs, carried_state, Wxh, Whh, b)
        backward = nb03.rnn_backward(chunk_loss_grads, chunk_inputs, carried_state,
                                     chunk_states, Wxh, Whh)
        _, _gradient_into_chunk, grad_Wxh, grad_Whh, grad_b = backward

        input_weight_grads.append(grad_Wxh)
        recurrent_weight_grads.append(grad_Whh)
        bias_grads.append(grad_b)

        carried_state = chunk_states[:, -1, :]
        chunk_start = chunk_end

    return (np.stack(input_weight_grads, axis=0),
            np.stack(recurrent_weight_grads, axis=0),
            np.stack(bias_grads, axis=0),
            carried_state)
