"""Running a notebook (DESIGN §6): plans, the runner, outputs, getting a kernel."""
