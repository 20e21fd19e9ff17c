"""Background agents that make a venue look alive (issue #9): market makers, noise traders,
momentum and mean-reversion traders, and an informed trader following a hidden fair value.
``traders`` are the agents, ``fair`` the fair value path, ``driver`` runs them live or in
simulated time."""
