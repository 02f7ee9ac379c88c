// mocha's spec reporter, plus the run's counts appended to $MOCHA_SUMMARY_FILE so hack/test.sh can print
// one closing "N passed, N failed" line over the unit and integration runs.
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const file = process.env.MOCHA_SUMMARY_FILE;
      if (!file) return;
      const { passes, failures, pending } = runner.stats;
      fs.appendFileSync(file, `${passes} ${failures} ${pending}\n`);
    });
  }
}

module.exports = SummaryReporter;
