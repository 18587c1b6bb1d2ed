"""Metagovernance (seeds 002 and 004): the decision-module registry with its history, experiments and
their retrospectives, non-binding polls, and the decentralisation milestones. Proposal-bound parts
(appeals, a commission's feedback before voting) live with the proposal in `service.py`."""
