from kit import run_env

run_env(None)
