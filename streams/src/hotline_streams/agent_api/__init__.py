"""The agents' desktop API: log in with skills, ready, not ready, wrap-up done, log out
(each publishes an agent event), and the current assignment with its screen pop."""
