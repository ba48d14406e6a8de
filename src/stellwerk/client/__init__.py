"""Client libraries for Stellwerk's APIs."""
