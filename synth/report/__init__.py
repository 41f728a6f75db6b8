"""What a person looks at to judge a version: the offline HTML report (``reports/NAME/report/index.html``) and the
preview contact sheet (``contact_sheet``, also drawn before | after by ``synth review``).

``samples`` picks and loads the samples to show, ``charts`` draws inline SVG, ``page`` writes the HTML; the
stage function is ``synth.stages.report.report``.
"""
