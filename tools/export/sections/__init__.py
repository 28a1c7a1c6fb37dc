"""The summary's sections. Each is a small class that counts its own figures, merges another instance
of itself, and renders its part of the result:

* `count(columns)`: one batch of records, read once into columns (`columns`, where what a record says
  is defined for both generations);
* `merge(other)`: what another instance counted from other stretches of the same export (a helper
  process reads some), giving the figures one pass would;
* `render(out)`: its part of `summary.ExportSummary` (a model from `parts`, imported as it renders, so
  that the helper process, which only counts, never loads pydantic), noting cuts and estimates in `out`
  (`render`).

A new figure is counted, merged and rendered in its section; a new fact about a record is read in
`columns`.
"""
