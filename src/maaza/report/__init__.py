"""Reports built only from measured files: model cards, leaderboards, per-schema difficulty, publishing.

Modules: `results` (loading results JSONs, labels, the published reference figures), `refine`
(`maaza refine`), `card` (`maaza card`), `leaderboard` (`maaza leaderboard`), `publish`
(`maaza publish`), `command` (their argparse parsers).
"""
