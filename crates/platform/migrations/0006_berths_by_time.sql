-- The city's occupancy through a day reads every lot's berth states of that day.
CREATE INDEX berth_states_by_time ON berth_states (at);
