//! Five-field cron schedules in Europe/London, with crontab's meaning.
