"""Model-wide sparse training for :mod:`multiproj.nn`: named groupings of weights
(:mod:`.groupers`), sparsity schedules (:mod:`.schedules`), constraints on a whole model
(:mod:`.constrain`) and physical compaction of the pruned model (:mod:`.compact`)."""
