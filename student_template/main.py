"""Question 6c's driver: trains seed 003's CNN on CIFAR-10 and tests it.

`python main.py` builds CNN((3, 32, 32), 10) (build_net.py), trains it with sup_trn
(algo_train.py) on CIFAR-10's 50,000 training images, validated on the 10,000 test images
as the course's driver does, saves its weights in cnn.ckpt and plots the accuracies.

The grader never runs this file. It reads opt_dict below without running any code, so
keep opt_dict one plain dict of literals (numbers, strings, True/False, lists); the
grader trains with these settings, its own data loaders, and opt_dict['gpu'] set to
whether it trains on CUDA.
"""
import torch

# Experiment settings (read by the grader as plain data).
opt_dict = {
    'tag': 'cifar_cnn',        # a title for the experiment
    'inp_dim': (3, 32, 32),    # one image: channels, height, width
    'out_dim': 10,             # number of classes
    'gpu': True,               # overwritten below (and by the grader)
    'solver': 'Adam',          # 'Adam' or 'SGDM'
    'tbs': 64,                 # training batch size
    'vbs': 1000,               # validation batch size
    'num_epochs': 8,
    'lr': 2e-3,                # learning rate
    'wd': 1e-5,                # weight decay
    'momentum': 0.9,           # for SGDM
    'lr_sch': [6],             # epochs at which the learning rate is multiplied by lr_factor
    'lr_factor': 0.1,
    'coll_cycle': 10,          # record the training loss every coll_cycle iterations
    'display_freq': 100,       # print progress every display_freq iterations
    'val_cycle': 1000,         # validate every val_cycle iterations (and at the last one)
}
CHECKPOINT = 'cnn.ckpt'  # the weights submitted when the grader runs in checkpoint mode


if __name__ == "__main__":
    import matplotlib.pyplot as plt
    import torchvision
    import torchvision.transforms as transforms
    from torch.utils.data import DataLoader

    from algo_train import sup_trn
    from build_net import CNN

    opt_dict['gpu'] = torch.cuda.is_available()
    # Per-channel standardisation with CIFAR-10's training statistics (0-1 pixels).
    normalize = transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    transform = transforms.Compose([transforms.ToTensor(), normalize])
    train_set = torchvision.datasets.CIFAR10(root='datasets/', train=True,
                                             transform=transform, download=True)
    test_set = torchvision.datasets.CIFAR10(root='datasets/', train=False,
                                            transform=transform)
    trn_loader = DataLoader(train_set, batch_size=opt_dict['tbs'], shuffle=True)
    val_loader = DataLoader(test_set, batch_size=opt_dict['vbs'], shuffle=False)
    opt_dict['trn_size'] = len(train_set)
    opt_dict['val_size'] = len(test_set)
    print('{0} training and {1} validation images'.format(len(train_set), len(test_set)))

    net = CNN(opt_dict['inp_dim'], opt_dict['out_dim'])
    if opt_dict['gpu']:
        net = net.cuda()
    net, trn_info = sup_trn(net, trn_loader, val_loader, opt_dict)
    torch.save(net.state_dict(), CHECKPOINT)
    print('final validation accuracy {0:.4f}; weights saved in {1}'
          .format(trn_info['val_acc'][-1], CHECKPOINT))

    plt.figure(1)
    plt.plot(trn_info['trn_itr'], trn_info['trn_acc'], '-ob', label='Training accuracy')
    plt.plot(trn_info['val_itr'], trn_info['val_acc'], '-or', label='Validation accuracy')
    plt.xlabel('Iteration number')
    plt.ylabel('Accuracy')
    plt.legend()
    plt.grid()
    plt.show()
