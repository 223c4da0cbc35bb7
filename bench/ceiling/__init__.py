"""The ceiling: a minimal Django project (not the application) measured beside it by bench/run.py.

Three views on the same database and the same gunicorn set-up as the read scenarios: a view
returning "ok", one primary-key query as JSON, and a DRF page of 20 rows by keyset. What they
serve on a machine is what Django itself serves there, so the application's figures can be read
relative to it (the issue gives the same three figures on its own machine). Nothing here imports
`bnpl_admin`.
"""
