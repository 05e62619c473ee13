"""Hand-computed answers: question 5f (Part 3; seed 002 task 1 on the network the handout
defines) and question 7a (seed 004 task 5.1).

Replace each None with your answer: a number, or a list of numbers where the question asks
for a vector. Plain numbers or arithmetic on numbers only (2 * 15, -1 - 0.05 * 120): the
grader reads this file without running it. Give at least 4 significant digits where a
result is not a whole number. Leave None for a question you skip.
"""

# 5f: dL/dw(1)_11 of the handout's sigmoid network (x = [0.5, 0.5, 0.1], target
# [0.9, 0.1], L = 1/2 * sum (y_i - t_i)^2), and w(1)_11 after one step with eta = 0.1
q5f_dL_dw1_11 = None
q5f_w1_11_updated = None

# 7a (seed 004, task 5.1)
q7a_v = None            # the hidden layer's output v: 3 numbers
q7a_y = None            # the predicted output y
q7a_C = None            # the cost C
q7a_dC_dw1_11 = None    # dC/dw(1)_11
q7a_dC_dW2 = None       # dC/dW(2): 3 numbers
q7a_W2_updated = None   # W(2) after one step with alpha = 0.05: 3 numbers
