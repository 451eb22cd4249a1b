"""Put routines on a phone: a static site with a podcast feed (``publish``), served over Wi-Fi (``serve``)."""
