"""Live queue statistics: waiting, longest wait, agents by state, arrival rate, AHT,
Erlang C agents needed and the surge level, with each waiting contact's estimate."""
