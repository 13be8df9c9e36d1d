"""ADBench LSTM: a diagonal-weight LSTM language model over a character sequence.

Inputs (l layers, c characters, b = 14 entries per character):
main_params (2l, 4b): row 2i holds the weights of layer i, row 2i+1 its biases, each in four
quarters of b (forget, input gate, output gate, change); extra_params (3, b): input weight,
output weight, output bias; state (2l, b): row 2i the hidden state and row 2i+1 the cell of
layer i; sequence (c, b).

    for t in 0..c-2:
        x = sequence[t] * extra[0]
        for each layer i (h, cell: the layer's state, carried across t):
            forget  = sigmoid(x * W0 + B0)      ingate = sigmoid(h * W1 + B1)
            outgate = sigmoid(x * W2 + B2)      change = tanh(h * W3 + B3)
            cell = cell * forget + ingate * change
            h = outgate * tanh(cell);  x = h
        y = x * extra[1] + extra[2]
        ynorm = y - log(2 + sum(exp(y)))
        total += sum(sequence[t + 1] * ynorm)
    loss = -total / ((c - 1) b)

As in ADBench, the gradient is taken w.r.t. main_params and extra_params (8lb + 3b entries);
the state is an input that the objective updates in place (on its own copy when
differentiated: autodiff_compiler copies written arguments on entry, and `lstm_objective`'s
callers here pass copies so the caller's state is never changed).

`lstm_objective` is the loop-level function autodiff_compiler differentiates;
`lstm_objective_numpy` is an independent vectorised implementation to check its value.
"""

from __future__ import annotations

import math

import numpy as np


def sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def lstm_cell(main_params, state, layer, j, b, x):
    """Entry j of one layer's LSTM step: updates the layer's cell and hidden state in place and
    returns the new hidden value (the next layer's input)."""
    w = 2 * layer
    hidden = state[w, j]
    forget = sigmoid(x * main_params[w, j] + main_params[w + 1, j])
    ingate = sigmoid(hidden * main_params[w, b + j] + main_params[w + 1, b + j])
    outgate = sigmoid(x * main_params[w, 2 * b + j] + main_params[w + 1, 2 * b + j])
    change = math.tanh(hidden * main_params[w, 3 * b + j] + main_params[w + 1, 3 * b + j])
    cell = state[w + 1, j] * forget + ingate * change
    state[w + 1, j] = cell
    h = outgate * math.tanh(cell)
    state[w, j] = h
    return h


def lstm_objective(main_params, extra_params, state, sequence):
    layers = state.shape[0] // 2
    c = sequence.shape[0]
    b = sequence.shape[1]
    ypred = np.zeros(b)
    total = 0.0
    for t in range(c - 1):
        # every operation of the diagonal LSTM is entrywise: run all layers for entry j
        for j in range(b):
            x = sequence[t, j] * extra_params[0, j]
            for layer in range(layers):
                x = lstm_cell(main_params, state, layer, j, b, x)
            ypred[j] = x * extra_params[1, j] + extra_params[2, j]
        sumexp = 0.0
        for j in range(b):
            sumexp += math.exp(ypred[j])
        lse = math.log(sumexp + 2.0)
        for j in range(b):
            total += sequence[t + 1, j] * (ypred[j] - lse)
    return -total / ((c - 1) * b)


# --- an independent vectorised NumPy implementation ------------------------------------------

def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def lstm_objective_numpy(main_params, extra_params, state, sequence) -> float:
    layers = state.shape[0] // 2
    c, b = sequence.shape
    hidden = [state[2 * i].copy() for i in range(layers)]
    cell = [state[2 * i + 1].copy() for i in range(layers)]
    weights = main_params[0::2].reshape(layers, 4, b)
    biases = main_params[1::2].reshape(layers, 4, b)
    total = 0.0
    for t in range(c - 1):
        x = sequence[t] * extra_params[0]
        for i in range(layers):
            wt, bs = weights[i], biases[i]
            forget = _sig(x * wt[0] + bs[0])
            ingate = _sig(hidden[i] * wt[1] + bs[1])
            outgate = _sig(x * wt[2] + bs[2])
            change = np.tanh(hidden[i] * wt[3] + bs[3])
            cell[i] = cell[i] * forget + ingate * change
            hidden[i] = outgate * np.tanh(cell[i])
            x = hidden[i]
        y = x * extra_params[1] + extra_params[2]
        ynorm = y - np.log(2.0 + np.sum(np.exp(y)))
        total += float(np.dot(sequence[t + 1], ynorm))
    return -total / ((c - 1) * b)
