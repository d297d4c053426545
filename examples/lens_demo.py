"""The demo (`make demo`): a strong-lens inversion likelihood at laptop scale.

The same as `slicens demo`; see slicens/demo.py for what it runs and prints.
"""

from slicens.demo import main

if __name__ == "__main__":
    main()
