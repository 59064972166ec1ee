"""A toy melody-to-chord world where the right answer is known (notebooks 04 and 05 open with it).

world.py   the world: diatonic triads in C from a Markov chain, melodies with known chord tones
reward.py  its learned coherence reward, with a deliberate hole
config.py  ToyConfig: the world, the hole, the course's RL recipe at toy size
run.py     train and measure every system with the course's own code (train_online, train_rl)
explorer.py  a widget: change the recipe, train in seconds, compare with the previous run
"""
