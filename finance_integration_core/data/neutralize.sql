-- a copy of a production database must never talk to the real systems
UPDATE fi_endpoint
   SET state = 'disabled'
 WHERE state != 'disabled';
UPDATE ir_cron
   SET active = false
 WHERE id IN (SELECT res_id FROM ir_model_data
               WHERE module = 'finance_integration_core' AND model = 'ir.cron');
-- and is not production: production endpoints cannot be activated in it
DELETE FROM ir_config_parameter
 WHERE key = 'finance_integration_core.production_database';
