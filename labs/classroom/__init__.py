"""The class server: one realm for a class, graded on a machine the students do not control.

A local lab (``orthrus-lab up``) is practice: its trace and activity log are files on the
student's own machine, which the student can edit, so its ``check`` is a self-check. A class
server (``orthrus-lab class init|serve|dashboard|report``) runs the KDC and the services on
the instructor's machine; students join it (``orthrus-lab join URL``) and use the ``orthrus``
client against it. Grades come only from what the class server's own KDC and services
recorded, attributed by the principal they authenticated (never by a field a student
writes). See docs/labs/class.md.
"""

__all__ = ["KERBEROS_OFFSET"]

#: The class KDC's Kerberos port (RFC 4120 §7.2, UDP and TCP) is its HTTPS port plus this:
#: ``class serve`` binds it, ``orthrus-lab join`` writes it into the student's krb5.conf.
KERBEROS_OFFSET = 3
