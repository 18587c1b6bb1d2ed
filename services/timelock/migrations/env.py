from kit._migrations import run_env
from services.timelock.models import Base
from services.timelock.webhooks import models as _webhook_models  # noqa: F401 - registers its tables

run_env(Base.metadata)
