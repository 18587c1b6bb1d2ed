from kit._migrations import run_env

run_env(None)
