# %% Imports
import os

# %% Main
if __name__ == '__main__':
    print(os.name)
