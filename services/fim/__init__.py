"""FIM import for administrators: an XDatenfelder schema and its code lists, parsed by a job."""
