"""What only the tests, the benches and the demo use: a private mosquitto and the cloud side,
the agent and the simulators as watched processes, and the whole-box rig. Not in the wheel."""
