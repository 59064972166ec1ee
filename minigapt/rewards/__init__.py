"""Rewards for RL post-training (paper 3.4): learned coherence models and rule penalties.

    encoders.py        the small transformer encoder every reward model is built from
    contrastive.py     melody/chord towers, InfoNCE; reward = cosine (also the Vendi embedding)
    discriminative.py  one encoder over the pair; reward = P(real pair)
    rhythm.py          tokens collapsed to onset/hold/silence; shifted-rhythm fakes
    ensemble.py        RewardConfig, RewardEnsemble (normalised mean = R_coh), save/load
    train.py           the training loop for any reward model, and for the ensemble
    penalties.py       rule penalties (invalid, silence, early stop, repetition), numpy only
    analysis.py        retrieval / classification metrics, key finding, trivial accompaniments

This package file imports nothing, so the numpy-only parts (penalties) load without torch.
"""
