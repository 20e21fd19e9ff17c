"""Clearing: accounts, ledger, positions, fees, margin, risk holds, liquidation, funding.

Planned in issue #4; the engine's reduce-only check reads positions the engine tracks itself
(``CMD_SET_POSITION``) until clearing supplies them.
"""
