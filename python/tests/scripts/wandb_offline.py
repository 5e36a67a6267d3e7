import sys

import wandb

import joules

run = wandb.init(project="joules-test", dir=sys.argv[1], mode="offline")
for step in range(5):
    joules.step()
    wandb.log({"loss": 1.0 / (step + 1), "joules/energy_j": sum(joules.energy().values())}, step=step)
run.finish()
