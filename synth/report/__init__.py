"""The dataset report: one offline HTML page (``reports/NAME/report/index.html``) a person reads to judge a version.

``samples`` picks and loads the samples to show, ``charts`` draws inline SVG, ``page`` writes the HTML; the
stage function is ``synth.stages.report.report``.
"""
