"""The original app's tools on the new pipeline: export, find, update-value, upsert."""
