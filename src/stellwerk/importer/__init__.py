"""Moving in: importers that bring the data of existing systems into Stellwerk."""
