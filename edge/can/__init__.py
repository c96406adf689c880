"""The CAN side of the vehicle box: the bus link, decoded signals with staleness, OBD-II polling."""
