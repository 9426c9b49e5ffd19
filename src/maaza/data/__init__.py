"""Synthetic data engine: records first (label right by construction), rendered as grounded text.

Modules: `records` (schema -> record), `semantics` (field meaning -> realistic value), `render`
(record -> text in several styles), `teachers` (optional LLM rewrite), `validate` (grounding,
near-duplicates, exclusion), `engine` (task-agnostic driver), `edgejson` (the first task),
`dataset` (output folder + card), `command` (`maaza data generate`).
"""
