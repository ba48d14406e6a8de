"""Moving in: bring the data of the systems Stellwerk replaces along.

One module per source (`nexredirect`, `v2`, `stellwerk` for Stellwerk's own export); each is an
`Importer` that `frame.run` drives through the same plan twice over: once as a dry run whose
transaction is rolled back, once for real. `ImportRecord`s remember what became of each source
object, so a second import updates or skips instead of duplicating. `skypanel`, `vyra` and
`adopt` build an `ImportPlan` (`plan`) that is shown as a dry run or applied.
"""
