"""Membership use cases: load, apply the rules of `domain`, save, and record events, in the caller's
transaction. Nothing here commits: the session's owner (HTTP request or consumer) does.

One class, split by sub-concept: `organizations` (creation and reads), `funds` (commitments, treasury,
exit), `sign_in` (EIP-4361), `enactment` (enacted actions, policy updates), `commissions` (feedback
commissions and their seats); `common` holds the steps they share (join, leave, weights, lookups) and
the views.
"""

from .commissions import Commissions
from .common import DEFAULT_PAGE, MAX_PAGE, decode_cursor, encode_cursor
from .enactment import Enactments
from .funds import Funds
from .organizations import Organizations
from .sign_in import SignIn


class MembershipService(Organizations, Funds, SignIn, Enactments, Commissions):
    pass


__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "MembershipService", "decode_cursor", "encode_cursor"]
