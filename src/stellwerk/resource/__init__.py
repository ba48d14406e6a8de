"""A pool of typed resources (servers, domains, ...) allocated to licenses."""
