from kit import run_env
from services.proposals.models import Base

run_env(Base.metadata)
