"""Pure logic: no I/O, imports nothing from the other rooms of the package."""
