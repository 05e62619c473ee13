"""Question 6c: the supervised training function of seed 003's CNN.

sup_trn(net, trn_loader, val_loader, opt_dict) trains `net` in place and returns
[net, trn_info]. The grader calls it with its own loaders, the settings main.py declares
in opt_dict (with opt_dict['gpu'] set by the grader: True when it trains on CUDA), and a
network already on that device.
"""
import time

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optimizer


def sup_trn(net, trn_loader, val_loader, opt_dict):
    """Trains net with opt_dict's solver on nn.CrossEntropyLoss; returns [net, trn_info].

    net: an nn.Module on the device the data goes to; trn_loader, val_loader: iterables of
    (images (B, 3, 32, 32) float32, labels (B,) int64); opt_dict: the settings of main.py
    plus 'gpu' (bool), 'trn_size' and 'val_size' (rows). The learning rate is multiplied
    by opt_dict['lr_factor'] at each epoch listed in opt_dict['lr_sch'].
    trn_info: 'trn_loss', 'trn_acc' (every coll_cycle iterations), 'val_loss', 'val_acc'
    (every val_cycle iterations and at the last one), 'trn_itr', 'val_itr',
    'trn_duration' (minutes).
    """
    gpu = bool(opt_dict['gpu'])
    if gpu:
        print('Training on GPU ' + str(torch.cuda.current_device()))
    if opt_dict['solver'] == 'SGDM':
        opt = optimizer.SGD(net.parameters(), lr=opt_dict['lr'],
                            momentum=opt_dict['momentum'], weight_decay=opt_dict['wd'])
    elif opt_dict['solver'] == 'Adam':
        # Question 6c: the Adam optimizer, with the learning rate and weight decay given.
        opt = optimizer.Adam(net.parameters(), lr=opt_dict['lr'], weight_decay=opt_dict['wd'])
    else:
        raise ValueError('Solver not recognized: ' + str(opt_dict['solver']))
    scheduler = optimizer.lr_scheduler.MultiStepLR(opt, milestones=opt_dict['lr_sch'],
                                                   gamma=opt_dict['lr_factor'])
    # Question 6c: the loss of a classifier that returns logits.
    criterion = nn.CrossEntropyLoss(reduction='mean')

    running_train_loss, running_train_acc, train_loss_itr = [], [], []
    running_val_loss, running_val_acc, val_loss_itr = [], [], []
    itr = 0
    itr_last = opt_dict['num_epochs'] * int(np.ceil(opt_dict['trn_size'] / opt_dict['tbs']))
    t_start = time.time()
    for epoch in range(opt_dict['num_epochs']):
        net.train()
        for X, label in trn_loader:
            itr += 1
            X = X.cuda() if gpu else X
            label = label.cuda().view(-1) if gpu else label.view(-1)

            # Question 6c: one training step on the mini-batch.
            opt.zero_grad()
            pred = net(X)
            train_loss = criterion(pred, label)
            train_loss.backward()
            opt.step()

            train_acc = (pred.argmax(dim=-1) == label).float().mean()
            if itr % opt_dict['coll_cycle'] == 0 or itr == 1:
                running_train_loss.append(train_loss.item())
                running_train_acc.append(train_acc.item())
                train_loss_itr.append(itr)
            if itr % opt_dict['display_freq'] == 0 or itr == 1:
                print('Epoch {0} iteration {1}: mini-batch loss {2:.4f}, accuracy {3:.4f}'
                      .format(epoch + 1, itr, train_loss.item(), train_acc.item()))

            if itr % opt_dict['val_cycle'] == 0 or itr == itr_last:
                val_loss, val_acc = validate(net, val_loader, criterion, gpu)
                running_val_loss.append(val_loss)
                running_val_acc.append(val_acc)
                val_loss_itr.append(itr)
                print('Epoch {0}: validation loss {1:.4f}, accuracy {2:.4f}'
                      .format(epoch + 1, val_loss, val_acc))
                net.train()

        current_lr = scheduler.get_last_lr()[-1]
        scheduler.step()
        new_lr = scheduler.get_last_lr()[-1]
        if current_lr != new_lr:
            print('Learning rate reduced to {0:.5f}'.format(new_lr))

    duration = (time.time() - t_start) / 60
    print('Training lasted {0:.2f} minutes'.format(duration))
    trn_info = {'trn_loss': np.array(running_train_loss), 'val_loss': np.array(running_val_loss),
                'trn_acc': np.array(running_train_acc), 'val_acc': np.array(running_val_acc),
                'trn_itr': np.array(train_loss_itr), 'val_itr': np.array(val_loss_itr),
                'trn_duration': duration}
    return [net, trn_info]


def validate(net, val_loader, criterion, gpu):
    """(mean loss per batch, accuracy in [0, 1]) of net on val_loader, in eval mode."""
    net.eval()
    total_loss, correct, rows, num_batches = 0.0, 0, 0, 0
    # Question 6c: the validation pass, without gradients.
    with torch.no_grad():
        for X, label in val_loader:
            X = X.cuda() if gpu else X
            label = label.cuda().view(-1) if gpu else label.view(-1)
            pred = net(X)
            total_loss += criterion(pred, label).item()
            correct += (pred.argmax(dim=-1) == label).sum().item()
            rows += label.shape[0]
            num_batches += 1
    return total_loss / max(num_batches, 1), correct / max(rows, 1)
